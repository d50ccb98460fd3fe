"""`make bench`: each figure measured side by side with its floor, in the same run."""
