module rotor.dev/plugins/go-header-auth

go 1.26

require rotor.dev/rotor v0.0.0

replace rotor.dev/rotor => ../../guest-sdk/go
