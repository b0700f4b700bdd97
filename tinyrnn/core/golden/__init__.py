"""The golden model: bit-exact integer reference in numpy, the spec of every C kernel.

Each module here has a C twin with the same stem in ``codegen/kernels/``
(``lstm_s8.py`` ↔ ``tinyrnn_lstm_s8.c``). Imports only numpy.
"""
