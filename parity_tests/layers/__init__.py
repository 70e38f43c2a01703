"""Each layer family (scratch.nn, scratch.functional) against torch autograd, the fast
paths against the plain ones, finite differences."""
