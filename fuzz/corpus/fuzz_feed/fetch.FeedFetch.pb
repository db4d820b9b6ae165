
requests)d ˆ'*matching2c-fetch