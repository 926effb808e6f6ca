"""Use cases: async functions taking a Database and `now`."""
