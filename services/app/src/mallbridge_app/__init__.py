"""mallbridge-app: the compositions of several services in one process (`mallbridge run`, `mallbridge demo`)."""
