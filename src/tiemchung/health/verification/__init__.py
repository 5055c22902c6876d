"""The health side's half of verification: the register service's client, the queue of requests and the store of
answers. The engine that answers lives on the register side (`tiemchung.register.linkage`)."""
