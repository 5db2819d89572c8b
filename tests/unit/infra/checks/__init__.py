"""Static checks of the container and deployment files against the real project tree (issue 6).

No Docker engine or cluster runs here, so the files are read, not run. Every container that runs `mallbridge` is
reduced to a `Launch` (its argv after `mallbridge`, its environment, the ports it exposes, the health probes aimed
at it, the files mounted into it) and checked against the click command it would really run, resolved through
`mallbridge_core.cli.main` exactly as the console script resolves it. So a renamed option, a moved port, a health
route that is gone, a file that is not there or a secret the tenants file needs but the container lacks shows up
as a problem here. Every check returns readable problems instead of asserting, so a test can show all of them
at once and a negative test can feed a modified copy of the tree and see the one it broke.
"""
