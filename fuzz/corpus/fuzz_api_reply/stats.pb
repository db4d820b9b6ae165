‚

	operators 

acme