
requestsÿ*requests"c1(€Œ¡Ë¶32jiangsu-drytechJÒ
$3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5fdemo-offer-001"=
jiangsu-drytechJiangsu DryTech Machinery Co.CN"Jiangsu*K
Technology transfer desktt@jiangsu-drytech.example.cn+86 10 5555 010021Continuous vacuum drying line for hardwood lumber:mVacuum kiln line with heat recovery that dries oak and birch lumber three times faster than convection kilns.BwoodworkingJvacuum dryingJlumberJKiln JkilnPZ`j
Ğ†€‰zrbyrKZx€ØÁ¢Œ4€ˆ€Œ¡Ë¶3˜€Œ¡Ë¶3Ş+requests"c2(è“¡Ë¶32operator:ok@J²
$7a1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e60need-1"
	kz-timber	KZ TimberKZ*!
Aigerima@kz-timber.example.kz2Need lumber drying:Faster dryingBwoodworkingJlumberPZ€ˆ,