# Runner self-test: this host never finishes; the runner must kill it at
# the timeout and count one failure.
# timeout: 40
while :; do sleep 60; done
