
requests"unavailable