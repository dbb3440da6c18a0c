"""The papers' claims (``paper/claims.yaml``) evaluated on the results: one verdict each."""
