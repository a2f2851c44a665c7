"""Kubernetes controllers in Python: the reference track of controller-examples."""
