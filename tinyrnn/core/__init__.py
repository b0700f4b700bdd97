"""The bottom layer: IR, artifact file, validation, golden model, board catalogue, errors. numpy and the standard library only."""
