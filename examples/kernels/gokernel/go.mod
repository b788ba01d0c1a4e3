module github.com/crowdrun/crowdrun/examples/kernels/gokernel

go 1.26
