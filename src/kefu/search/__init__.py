"""History search (DATA-5): domain rules, the use case and its HTTP route."""
