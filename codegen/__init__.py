"""IR → C: Jinja2 templates and int8 kernels (``generate``), host compilation (``hostlib``),
firmware project rendering and build (``firmware``, ``build``)."""
