"""Model calls: the LM object, hosted and in-process models, the call cache, rate limits, the fakes."""
