"""clusterkit: one interface over the clusters the suite can run against.

Providers: ``local`` (a real control plane compiled from Go modules and run as
plain processes on 127.0.0.1, with kwok standing in for kubelets), ``kind`` (a
kind cluster, when Docker runs) and ``existing`` (``$KUBECONFIG`` as it is).
Run ``python -m clusterkit --help`` for the command line.
"""
