ú
	operators