from nosana_node.cli.app import main

main()
