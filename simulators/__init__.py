"""Stand-alone processes that speak the SMS centre and Iran Poosheh protocols, for tests and demos."""
