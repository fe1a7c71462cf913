from clinifile.cli.main import main

main()
