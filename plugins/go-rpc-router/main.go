// Routes RPC calls by method name, like the Rust rpc-router:
//
//   - `echo`: answers with the call's data as it is;
//   - `whoami`: answers `{"user": <user id>, "client": <connection id>}`;
//   - `sum`: takes `{"numbers": [..]}` and answers `{"sum": <total>}`;
//     anything else is refused with `107 bad request`;
//   - any other method is refused with `104 method not found`.
//
// Reads no config keys and imports nothing from the host.
package main

import (
	"encoding/json"
	"math"

	"rotor.dev/rotor"
)

// methods are the methods the router answers, by name.
var methods = map[string]func(rotor.RPCRequest) (rotor.RPCResult, error){
	"echo": func(request rotor.RPCRequest) (rotor.RPCResult, error) {
		return rotor.RPCResult{Data: request.Data}, nil
	},
	"whoami": func(request rotor.RPCRequest) (rotor.RPCResult, error) {
		return answer(map[string]string{"user": request.User, "client": request.Conn.Client})
	},
	"sum": func(request rotor.RPCRequest) (rotor.RPCResult, error) {
		total, err := sum(request.Data)
		if err != nil {
			return rotor.RPCResult{}, err
		}
		return answer(map[string]float64{"sum": total})
	},
}

func init() {
	rotor.RPC(route)
}

// route answers one call.
func route(request rotor.RPCRequest) (rotor.RPCResult, error) {
	method, ok := methods[request.Method]
	if !ok {
		return rotor.RPCResult{}, rotor.MethodNotFound()
	}
	return method(request)
}

// sum is the total of `{"numbers": [..]}`.
func sum(data []byte) (float64, error) {
	var input struct {
		Numbers *[]float64 `json:"numbers"`
	}
	if err := json.Unmarshal(data, &input); err != nil || input.Numbers == nil {
		return 0, rotor.BadRequest(`expected {"numbers": [<number>, ...]}`)
	}
	total := 0.0
	for _, number := range *input.Numbers {
		total += number
	}
	if math.IsInf(total, 0) {
		return 0, rotor.BadRequest("sum overflows")
	}
	return total, nil
}

// answer is value as the JSON data of a result.
func answer(value any) (rotor.RPCResult, error) {
	data, err := json.Marshal(value)
	return rotor.RPCResult{Data: data}, err
}

func main() {}
