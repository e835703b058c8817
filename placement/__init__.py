"""Placement: requests for a shelter bed, the ranking engine and the batch assignment."""
