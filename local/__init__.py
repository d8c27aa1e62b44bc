"""The offline stack that `make run` starts (see local/stack.py)."""
