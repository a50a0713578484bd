"""Status LEDs and the test button: the legend (data), what shows when, and the gpiozero driver."""
