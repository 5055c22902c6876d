from tiemchung.cli import main

main()
