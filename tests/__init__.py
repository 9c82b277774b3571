"""The test suite: a package tree that mirrors the repository (translate/ and plugins/)."""
