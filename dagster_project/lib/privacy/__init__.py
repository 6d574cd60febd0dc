"""Privacy: right-to-be-forgotten (erasure) and the Customer Match normalisation of exports."""
