from tiemchung.cli import main

# Guarded: worker processes (spawned by the verification's subject repair) import the main module again.
if __name__ == "__main__":
    main()
