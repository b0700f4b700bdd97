"""Firmware templates: board catalogue (``boards.json``), startup, UART drivers, linker
and Makefile templates. Data only; ``tinyrnn.codegen.firmware`` renders them."""
