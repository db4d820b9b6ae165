	kz-timberò
	kz-timberd