// Package launch starts processes in containers: the /etc files every container gets
// (Etc).
package launch
