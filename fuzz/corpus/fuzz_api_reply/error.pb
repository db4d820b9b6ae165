
c-err]2 problem(s)1
org.country"must be an ISO 3166-1 alpha-2 code
keywords[3]	too short