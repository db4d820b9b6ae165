ú
	kz-timber	 