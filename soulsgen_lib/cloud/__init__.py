"""Training on a Compute Engine GPU VM: the VM's startup script and insert body, and the job the VM runs."""
