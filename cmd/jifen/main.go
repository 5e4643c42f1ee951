// Command jifen is the management information system of Beijing's
// points-based household registration scheme (北京市积分落户管理信息系统).
package main

import (
	"context"
	"os"

	"jifen/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
	}))
}
