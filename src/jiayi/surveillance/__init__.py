"""Early warning for notifiable diseases: outbreak detectors and the simulation study that judges them.

`jiayi.surveillance.detectors` holds the detectors (EARS C1-C3, Farrington and its improved version,
China's CIDARS moving percentile and the space-time permutation scan), pure numpy/scipy/pandas code
checked against the alarms of the R package `surveillance`. `jiayi.surveillance.evaluation` simulates
count series with known outbreaks (Noufaily et al. 2013) and measures false-positive rate, probability
of detection, sensitivity, specificity and delay, also at a matched false-positive rate.
"""
