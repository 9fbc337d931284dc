# pciback-helper: host side of PCI.  No code yet.
