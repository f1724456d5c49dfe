from jiayi.cli import main

main()
