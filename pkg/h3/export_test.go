package h3

import "net/http"

// PushAllowed returns a channel closed once the client of the connection
// behind w allowed server push (its MAX_PUSH_ID arrived), for tests that
// must not race the control stream.
func PushAllowed(w http.ResponseWriter) <-chan struct{} {
	return w.(*responseWriter).sc.pushAllowedChan()
}
