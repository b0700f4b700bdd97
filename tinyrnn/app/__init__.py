"""The application layer: the `tinyrnn` CLI, its commands and the library API they call (:mod:`tinyrnn.app.api`)."""
