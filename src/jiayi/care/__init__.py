"""Health management (健康管理): clinical rules and risk scores of chronic-disease care, as pure functions.

`jiayi.care.risk` holds the scores of the yearly health assessment (健康评估); `jiayi.care.rules` holds the
follow-up (随访) rules of the national basic public health service spec (国家基本公共卫生服务规范, 3rd ed.,
2017). Neither reads the clock nor touches the database: callers pass dates and measurements in.
"""
