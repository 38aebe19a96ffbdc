"""Executable reproduction of Butler-Yeoman (2017): models, estimators, data and runners."""
