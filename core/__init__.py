"""The booking domain: statuses and moves, queries, the command language. Standard library only."""
