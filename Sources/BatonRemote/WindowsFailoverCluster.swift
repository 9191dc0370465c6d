import Foundation

/// Baton's built-in commands for Exchange servers and Windows failover clusters, reached
/// through OpenSSH for Windows, whose default shell is cmd.exe. Each is PowerShell (2.0 or
/// later), sent as `-EncodedCommand` so no quoting is lost on the way.
///
/// Exchange 5.5, 2000 and 2003 run on Windows NT 4.0, 2000 and Server 2003, whose clusters
/// predate the FailoverClusters module: groups, resources and the Cluster service are driven
/// with `cluster.exe`, which every one of those systems has. Paths under `C:\Baton` (the
/// package media, backups, what quiesce stopped) are conventions an inventory can change by
/// overriding a command in a profile of kind `windows-failover-cluster`. Review these before
/// production: docs/remote.md lists them with the reason for each.
enum WindowsFailoverCluster {
    /// Services and programs that can hold files the installer replaces (rule `quiesce`):
    /// common file-level antivirus, backup agents, SNMP and monitoring agents.
    static let interfering =
        "McShield|McAfeeFramework|SAVService|Symantec AntiVirus|ntrtscan|TmListen|BackupExecAgentAccelerator|BackupExecRPCService|SNMP|HealthService|MOM|NetIQmc"

    static let commands: [String: String] = [
        "backup": #"""
        $what = '{{what}}'.Split(',')
        New-Item -ItemType Directory -Force C:\Baton\backups | Out-Null
        if ($what -contains 'system-state') { ntbackup backup systemstate /J 'Baton {{step}}' /F "C:\Baton\backups\{{host}}-{{step}}-systemstate.bkf"; if ($LASTEXITCODE) { exit $LASTEXITCODE } }
        if ($what -contains 'databases') { ntbackup backup '@C:\Baton\exchange-databases.bks' /J 'Baton {{step}}' /F "C:\Baton\backups\{{host}}-{{step}}-databases.bkf"; if ($LASTEXITCODE) { exit $LASTEXITCODE } }
        """#,
        "export-schema-map": #"""
        $configuration = ([ADSI]'LDAP://RootDSE').configurationNamingContext
        ldifde -f 'C:\Baton\{{host}}-schema-maps.ldf' -d "$configuration" -r '(|(msExchServer1SchemaMap=*)(msExchServer2SchemaMap=*))' -l 'msExchServer1SchemaMap,msExchServer2SchemaMap'
        exit $LASTEXITCODE
        """#,
        "quiesce": #"""
        New-Item -ItemType Directory -Force C:\Baton | Out-Null
        $stopped = Get-Service | Where-Object { $_.Status -eq 'Running' -and $_.Name -match '\#(interfering)' }
        $stopped | ForEach-Object { Stop-Service -Name $_.Name -Force -ErrorAction Stop }
        $stopped | ForEach-Object { $_.Name } | Set-Content C:\Baton\stopped-services.txt
        if ($stopped) { "stopped: " + (($stopped | ForEach-Object { $_.Name }) -join ', ') }
        else { "stopped nothing: none of these services runs here (name them in the profile's quiesce if yours differ): \#(interfering.replacingOccurrences(of: "|", with: ", "))" }
        """#,
        "check-installers": #"""
        $running = Get-Process -Name 'setup','update','xcopy','msiexec' -ErrorAction SilentlyContinue
        if ($running) { "another installer is running: " + (($running | ForEach-Object { $_.Name }) -join ', '); exit 1 }
        "no other installer runs"
        """#,
        "leave-pool": #"""
        wlbs drainstop
        exit $LASTEXITCODE
        """#,
        "rejoin-pool": #"""
        wlbs start
        exit $LASTEXITCODE
        """#,
        "move-group": #"""
        cluster group '{{group}}' /moveto:{{to}}
        exit $LASTEXITCODE
        """#,
        "stop-cluster-service": #"""
        net stop clussvc
        if ($LASTEXITCODE -and (Get-Service clussvc).Status -ne 'Stopped') { exit $LASTEXITCODE }
        """#,
        "start-cluster-service": #"""
        net start clussvc
        if ($LASTEXITCODE -and (Get-Service clussvc).Status -ne 'Running') { exit $LASTEXITCODE }
        """#,
        "install": #"""
        $setup = Get-ChildItem 'C:\Baton\packages\{{package}}' -Recurse -Include 'update.exe','*.msi','*.exe' | Select-Object -First 1
        if (-not $setup) { "no installer under C:\Baton\packages\{{package}}"; exit 2 }
        $process = Start-Process -FilePath $setup.FullName -ArgumentList '/quiet','/norestart' -Wait -PassThru
        exit $process.ExitCode
        """#,
        "restart": "shutdown /r /t 5 /c 'Baton: restart for {{step}}'",
        "probe": "hostname",
        "resources-offline": #"""
        $keep = 'IP Address','Network Name','Physical Disk'
        $resources = Get-WmiObject -Namespace root\MSCluster -Query "ASSOCIATORS OF {MSCluster_ResourceGroup.Name='{{group}}'} WHERE AssocClass = MSCluster_ResourceGroupToResource"
        foreach ($resource in $resources) {
            if ($keep -notcontains $resource.Type) { $resource.TakeOffline(300) | Out-Null; "offline: " + $resource.Name }
        }
        """#,
        "upgrade-virtual-server": #"""
        "Run 'Upgrade Exchange Virtual Server' on {{group}} in Cluster Administrator on {{host}} (KB 328839 gives no command for it), then resume the run; Baton checks the virtual server's version before going on."
        exit 4
        """#,
        "resources-online": #"""
        cluster group '{{group}}' /online
        exit $LASTEXITCODE
        """#,
        "update-component": #"""
        $setup = Get-ChildItem 'C:\Baton\packages\{{package}}\{{component}}' -Recurse -Include setup.exe | Select-Object -First 1
        if (-not $setup) { "no setup for {{component}} under C:\Baton\packages\{{package}}"; exit 2 }
        exit (Start-Process -FilePath $setup.FullName -ArgumentList '/q' -Wait -PassThru).ExitCode
        """#,
        "performance-optimizer": #"""
        $exchange = (Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Exchange\Setup').Services
        exit (Start-Process -FilePath "$exchange\bin\perfwiz.exe" -ArgumentList '-s' -Wait -PassThru).ExitCode
        """#,
        "restore-services": #"""
        if (Test-Path C:\Baton\stopped-services.txt) {
            Get-Content C:\Baton\stopped-services.txt | Where-Object { $_ } | ForEach-Object { Start-Service -Name $_ -ErrorAction Stop }
            Remove-Item C:\Baton\stopped-services.txt
        }
        """#,
        "verify-version": #"""
        $exchange = (Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Exchange\Setup').Services
        $build = (Get-Item "$exchange\bin\store.exe").VersionInfo.FileVersion.Split(' ')[0]
        if ($build -ne '{{build}}') { "{{host}}{{group}} reports build $build, not {{build}}"; exit 1 }
        "reports build $build"
        """#,
        "failover-test": #"""
        $owner = ((cluster group '{{group}}' | Select-String '{{group}}').ToString() -split '\s{2,}')[1]
        cluster group '{{group}}' /move
        if ($LASTEXITCODE) { exit $LASTEXITCODE }
        cluster group '{{group}}' /moveto:$owner
        if ($LASTEXITCODE) { exit $LASTEXITCODE }
        if ((cluster group '{{group}}' | Select-String 'Online') -eq $null) { "{{group}} is not online after failing over and back"; exit 1 }
        """#,
    ]

    /// Checks asked on resume: an install is never repeated on a host that reports the
    /// package's build; a group already on its target node is not moved again.
    static let checks: [String: String] = [
        "install": #"""
        $exchange = (Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Exchange\Setup').Services
        if ('{{build}}' -eq '') { exit 1 }
        if ((Get-Item "$exchange\bin\store.exe").VersionInfo.FileVersion.Split(' ')[0] -ne '{{build}}') { exit 1 }
        """#,
        "move-group": #"""
        if ((cluster group '{{group}}' | Select-String '{{to}}') -eq $null) { exit 1 }
        """#,
    ]

    /// `powershell -EncodedCommand`: the script as UTF-16LE in Base64.
    static func encoded(_ script: String) -> String {
        var bytes: [UInt8] = []
        for unit in script.utf16 { bytes += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        return "powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
            + Data(bytes).base64EncodedString()
    }
}
