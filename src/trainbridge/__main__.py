from trainbridge.cli import main

main()
