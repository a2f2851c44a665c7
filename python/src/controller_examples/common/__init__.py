"""What every program in this repository shares.

- `cli`: the command line (options, exit codes) of the contract in conformance/CONTRACT.md.
- `kube`: finding the cluster the way kubectl does and building an API client for it.
- `errors`: turning API and connection failures into the contract's one-line messages.
- `pods`: pods as small records, listed page by page.
"""
