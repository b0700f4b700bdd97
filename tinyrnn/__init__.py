"""tinyrnn: Keras LSTM/GRU → int8 C for Cortex-M, verified bit-exact on the device."""

__version__ = "0.1.0"
