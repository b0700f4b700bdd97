"""int8 quantization: Keras (later TFLite) models → the tinyrnn IR, with calibration."""
