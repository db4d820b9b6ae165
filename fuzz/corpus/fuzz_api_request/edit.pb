
c-editoperatorj—
$3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5fG*
Desk X@Y.example 2 A new title for the lumber dryerJDryingj
"title"keywords"contact"
budget_usd