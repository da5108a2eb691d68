from phi_agent.cli import main

main()
